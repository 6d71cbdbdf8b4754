// Small DOM helpers: the pages build their tables and lists with these, no framework.
// Text always goes in as text nodes, never as HTML: ids and names come from the store file.

export type Child = Node | string | number | null | undefined | false;

/** attributes: `class`, `data-*`, `aria-*` and any other attribute as a string; `hidden` as a boolean */
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page has no #${id}`);
  return el as T;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** replaces an element's children */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function setText(id: string, text: string): void {
  byId(id).textContent = text;
}

/** a table body's rows: one `<tr>` per item, cells as given */
export function rows<T>(tbody: HTMLTableSectionElement, items: readonly T[], row: (item: T) => HTMLTableRowElement): void {
  tbody.replaceChildren(...items.map(row));
}
