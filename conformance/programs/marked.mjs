// marked's CLI: Markdown file to HTML on stdout.
export default {
  kind: 'cli',
  what: 'marked -i README.md (Markdown to HTML)',
  packages: { marked: '17.0.1' },
  files: { 'README.md': '# Title\n\nSome *text* with `code`.\n\n- one\n- two\n\n```js\nconsole.log(1)\n```\n' },
  command: ['node', 'node_modules/marked/bin/marked.js', '-i', 'README.md'],
  ci: true,
};
