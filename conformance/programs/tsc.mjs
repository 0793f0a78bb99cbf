// tsc on a small project with one type error: reads the project, writes dist/, prints the error, exits 2.
export default {
  kind: 'cli',
  what: 'tsc -p . on a 3-file project with one type error',
  packages: { typescript: '5.9.3' },
  files: {
    'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', strict: true, outDir: 'dist', sourceMap: true }, include: ['src'] }),
    'src/shapes.ts': 'export interface Shape { area(): number }\nexport class Square implements Shape { constructor(private side: number) {} area() { return this.side ** 2; } }\n',
    'src/main.ts': "import { Square } from './shapes.js';\nconst s = new Square(3);\nconst n: string = s.area();\nconsole.log(n);\n",
    'src/util.ts': 'export const twice = (x: number) => x * 2;\n',
  },
  clean: ['dist'],
  command: ['node', 'node_modules/typescript/bin/tsc', '-p', '.'],
  ci: true,
};
