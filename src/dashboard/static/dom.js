// Small DOM helpers. Every piece of text from the broker goes in as a text node, never as HTML.

/** el('td', { class: 'num' }, 'text', childNode): attributes are set as attributes, children appended as text or nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** Set text only when it changed: the fleet table updates hundreds of cells a second otherwise. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A number for people: '—' when missing or not finite, exponent form when huge. */
export function fmt(value, digits = 1) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 1e6) return value.toExponential(2);
  return value.toFixed(digits);
}

export function pct(fraction) {
  return typeof fraction === 'number' && Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '—';
}

/** '4 s ago', '3 min ago'; '—' when never seen. */
export function ago(ms, now) {
  if (typeof ms !== 'number' || ms <= 0) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Clip text from the broker to a readable length. */
export function clip(text, max = 200) {
  const s = String(text ?? '');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
