// json-server 0.17 started as its bin runs it (`node lib/cli/bin`, no extension), driven over HTTP.
import { requests } from '../lib/http-driver.mjs';
export default {
  kind: 'server',
  what: 'json-server db.json: GET list, POST, PATCH, GET one, DELETE (db.json rewritten)',
  packages: { 'json-server': '0.17.4' },
  files: { 'db.json': JSON.stringify({ posts: [{ id: 1, title: 'first' }], comments: [] }, null, 2) },
  command: ['sh', '-c', 'exec node node_modules/json-server/lib/cli/bin --host 127.0.0.1 --port $PORT db.json'],
  driver: ({ url }) =>
    requests(url, [
      { path: '/posts' },
      { method: 'POST', path: '/posts', body: { id: 2, title: 'second' } },
      { method: 'PATCH', path: '/posts/1', body: { title: 'changed' } },
      { path: '/posts/1' },
      { method: 'DELETE', path: '/posts/2' },
      { path: '/posts?title_like=ch' },
    ]),
  ci: true,
};
