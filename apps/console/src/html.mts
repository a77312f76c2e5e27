// The console's HTML: every value escaped where it is put (the `html` tag), one layout with a
// skip link, a landmark for each part and the operator's name, tables with headers, and small
// SVG charts drawn on the server (no script runs in the page; docs/decisions.md).

/** HTML already escaped: what `html` returns, and what it puts in as it is. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escape = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as readonly Value[]).map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escape(String(value));
}

/** A template whose interpolations are escaped, unless they are Html themselves. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(text);
}

export interface Page {
  readonly title: string;
  readonly user: string;
  readonly csrf: string;
  /** Which item of the navigation is this page's. */
  readonly section: 'overview' | 'orders' | 'dead-letters' | 'projections' | 'sagas' | 'streams';
  /** Seconds after which the page loads itself again (a rebuild's progress). */
  readonly refresh?: number;
  readonly body: Html;
}

const NAVIGATION: readonly [Page['section'], string, string][] = [
  ['overview', '/', 'Overview'],
  ['sagas', '/sagas', 'Sagas'],
  ['dead-letters', '/dead-letters', 'Dead letters'],
  ['projections', '/projections', 'Projections'],
  ['streams', '/streams', 'Streams'],
];

export function layout(page: Page): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${page.refresh ? html`<meta http-equiv="refresh" content="${page.refresh}" />` : ''}
        <title>${page.title} - es console</title>
        <link rel="stylesheet" href="/console.css" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to the content</a>
        <header>
          <span class="brand">es console</span>
          <nav aria-label="Sections">
            <ul>
              ${NAVIGATION.map(
                ([section, href, label]) =>
                  html`<li>
                    <a href="${href}" ${section === page.section ? html` aria-current="page"` : ''}
                      >${label}</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
          <form class="find" method="get" action="/orders" role="search">
            <label for="find-order">Order id</label>
            <input id="find-order" name="id" required placeholder="an order's id" />
            <button type="submit">Open</button>
          </form>
          <form class="who" method="post" action="/logout">
            <input type="hidden" name="csrf" value="${page.csrf}" />
            <span>Signed in as <strong>${page.user}</strong></span>
            <button type="submit">Sign out</button>
          </form>
        </header>
        <main id="main" tabindex="-1">
          <h1>${page.title}</h1>
          ${page.body}
        </main>
      </body>
    </html>`;
}

/** A table with a caption (its accessible name) and a header row. */
export function table(caption: string, head: readonly string[], rows: readonly Value[][]): Html {
  if (rows.length === 0) return html`<p class="empty">${caption}: none.</p>`;
  return html`<table>
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        ${head.map((h) => html`<th scope="col">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) =>
          html`<tr>
            ${row.map((cell) => html`<td>${cell}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** A small line chart of the last samples, labelled for a screen reader by its last value. */
export function sparkline(label: string, points: readonly number[], unit = ''): Html {
  const width = 160;
  const height = 32;
  const last = points.at(-1);
  if (last === undefined) return html`<span class="muted">no samples yet</span>`;
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? width / (points.length - 1) : 0;
  const coordinates = points
    .map((p, i) => `${(i * step).toFixed(1)},${(height - 2 - (p / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return html`<svg
      class="spark"
      role="img"
      width="${width}"
      height="${height}"
      viewBox="0 0 ${width} ${height}"
    >
      <title>
        ${label}: ${last}${unit} now, at most ${max}${unit} in the last ${points.length} samples
      </title>
      <polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${coordinates}" />
    </svg>
    <span>${last}${unit}</span>`;
}

/** A form posting to `action` with the session's CSRF token; `fields` inside it. */
export function postForm(action: string, csrf: string, fields: Html, className = ''): Html {
  return html`<form
    method="post"
    action="${action}"
    ${className ? html` class="${className}"` : ''}
  >
    <input type="hidden" name="csrf" value="${csrf}" />
    ${fields}
  </form>`;
}

export const STYLE = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#1d4ed8;--bad:#991b1b;--good:#166534;--warn:#92400e}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:var(--ink);background:#f6f8fa}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem;z-index:1}
.skip:focus{left:.5rem}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;background:#0f172a;color:#fff;padding:.5rem 1rem}
header a{color:#e2e8f0}
.brand{font-weight:700}
nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
nav a[aria-current=page]{color:#fff;font-weight:700;text-decoration-thickness:3px}
.find{display:flex;gap:.3rem;align-items:center;margin-left:auto}
.find label{font-size:.85rem}
.who{display:flex;gap:.5rem;align-items:center}
main{padding:1rem 1.5rem;max-width:90rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;min-width:30rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid var(--line);padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#eef1f4}
td pre,pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
.muted,.empty{color:var(--muted)}
.ok{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
button{font:inherit;padding:.3rem .8rem;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
input,select{font:inherit;padding:.25rem .4rem;border:1px solid #6b7280;border-radius:4px}
a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #f59e0b;outline-offset:2px}
form.inline{display:inline-flex;gap:.4rem;align-items:center;margin:.2rem .5rem .2rem 0}
fieldset{border:1px solid var(--line);background:#fff;margin:.5rem 0;padding:.6rem 1rem}
legend{font-weight:600}
.notice{padding:.6rem 1rem;border-radius:4px;background:#e0f2fe;margin:.5rem 0}
.notice.problem{background:#fee2e2;color:var(--bad)}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.6rem 1rem;min-width:14rem}
.card h3{margin:0 0 .3rem;font-size:1rem}
.spark{vertical-align:middle;color:var(--accent)}
.timeline{background:#fff;border:1px solid var(--line);max-width:100%;height:auto}
.timeline text{font:12px system-ui,sans-serif;fill:var(--ink)}
progress{width:20rem;height:1.2rem}
`;
