// The one style sheet of the user's page, served from /assets/style.css (no CDN, no web font:
// the system's fonts). Colours meet WCAG 2 AA contrast (axe-core checks it in the browser test).

export const STYLE_SHEET_PATH = '/assets/style.css';

export const STYLE_SHEET = `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1f24;background:#f6f7f9}
a{color:#0b57a4}
a:focus,button:focus,input:focus,summary:focus{outline:3px solid #f0a202;outline-offset:2px}
.skip{position:absolute;left:-999px}
.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{background:#16324f;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center}
header .site{font-weight:700;margin:0;font-size:1.1rem}
header nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:0;padding:0}
header a{color:#fff}
header a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
header form{margin:0 0 0 auto}
header .who{font-size:.9rem}
main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
section>h2:first-child{margin-top:0}
h3{font-size:1.05rem;margin:1rem 0 .25rem}
section,.card{background:#fff;border:1px solid #d0d5dc;border-radius:6px;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
label.inline{display:inline;font-weight:400;margin:0}
input[type=email],input[type=password],input[type=text]{width:100%;max-width:24rem;padding:.45rem;border:1px solid #6b7480;border-radius:4px;font:inherit}
button{font:inherit;padding:.45rem .9rem;border-radius:4px;border:1px solid #0b57a4;background:#0b57a4;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b57a4}
button.danger{background:#a4262c;border-color:#a4262c}
header button{background:transparent;border-color:#fff;color:#fff;padding:.2rem .6rem}
meter{width:100%;max-width:32rem;height:1.4rem;display:block}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d5dc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.notice{border-left:5px solid #1b7f3b;background:#eaf6ee;padding:.6rem .9rem;margin:0 0 1rem}
.error{border-left:5px solid #a4262c;background:#fbeaea;padding:.6rem .9rem;margin:0 0 1rem}
.secret{font:1.2rem/1.4 ui-monospace,Menlo,Consolas,monospace;background:#fff;border:2px dashed #16324f;padding:.5rem;display:inline-block;letter-spacing:.05em}
code,kbd{font-family:ui-monospace,Menlo,Consolas,monospace;background:#eef0f3;padding:0 .25rem;border-radius:3px}
dl.values{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.values dt{font-weight:600}
dl.values dd{margin:0}
.actions{display:flex;flex-wrap:wrap;gap:.75rem}
.actions form{margin:0}
.hint{color:#4a525c;font-size:.92rem}
`;
