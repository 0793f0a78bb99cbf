// prettier formatting a file to stdout and checking a folder.
export default {
  kind: 'cli',
  what: 'prettier src/a.js src/b.ts (formatted to stdout)',
  packages: { prettier: '3.10.2' },
  files: {
    'src/a.js': "const  x = {a:1,b:[1,2,3]}\nfunction f( y ){return y*2}\nconsole.log( f(x.a) )\n",
    'src/b.ts': 'export   const  y : number=2\n',
  },
  command: ['node', 'node_modules/prettier/bin/prettier.cjs', 'src/a.js', 'src/b.ts'],
  ci: true,
};
