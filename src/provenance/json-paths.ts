// Where each value of a JSON text is: path ($.a[0].b) → character range [start, end). Used to give a
// parsed value the lineage of exactly the characters it was parsed from, so a value's siblings in
// the same document are not part of its lineage.

export function jsonLeafRanges(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const start = i;
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          ws();
          const key = str();
          ws();
          i++; // :
          value(/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
          ws();
          if (text[i++] === '}') break;
        }
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') i++;
      else {
        for (let n = 0; ; n++) {
          value(`${path}[${n}]`);
          ws();
          if (text[i++] === ']') break;
        }
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
    }
    if (i === start) throw new Error('not JSON');
    out.set(path, [start, i]);
  };
  value('$');
  return out;
}
