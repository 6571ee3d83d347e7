// The HTML template escapes every value that is not already markup.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, html } from './html-template.js';

void test('values are escaped; nested templates and arrays are not escaped twice', () => {
  const name = `<script>alert("x")</script>&'`;
  assert.equal(
    html`<p title="${name}">${name}</p>`.text,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
  );
  const items = ['a<b', 'c'].map((x) => html`<li>${x}</li>`);
  const list = html`<ul>
    ${items}
  </ul>`;
  assert.equal(list.text.replace(/\s+/g, ''), '<ul><li>a&lt;b</li><li>c</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}`.text, '0');
  assert.equal(escapeHtml('plain'), 'plain');
});
