// What an unrecorded client saw: each request's method, path, status and (optionally) body.
export async function requests(base, list) {
  const lines = [];
  for (const r of list) {
    const res = await fetch(base + r.path, {
      method: r.method ?? 'GET',
      headers: r.body === undefined ? { ...(r.headers ?? {}) } : { 'content-type': 'application/json', ...(r.headers ?? {}) },
      body: r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
    });
    const text = await res.text();
    lines.push(`${r.method ?? 'GET'} ${r.path} ${res.status}${r.ignoreBody ? '' : ` ${r.transform ? r.transform(text) : text}`}`);
  }
  return lines.join('\n');
}
