// Where a login may send the browser back to: a path of this console only. `//host` and `/\host`
// are other sites to a browser (it reads a backslash as a slash), so are refused with any
// backslash or control character; anything refused goes to the overview.
export function localPath(value: string | null | undefined): string {
  if (!value || !value.startsWith('/') || value.startsWith('//')) return '/';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x5c || code < 0x20 || code === 0x7f) return '/';
  }
  return value;
}
