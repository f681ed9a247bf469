// The two DOM helpers the dashboard needs: find an element by its test id, and build one.

/** The element with `data-testid="<testid>"`. */
export const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`)

/** An element with properties (`className`, `text`, or any attribute) and children. */
export const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'className') e.className = v
    else if (k === 'text') e.textContent = v
    else e.setAttribute(k, v)
  }
  e.append(...children)
  return e
}
