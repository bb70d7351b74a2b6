// SPDX-License-Identifier: MIT
// Parley web - small line icons as inline SVG (no icon font, no emoji font needed).
import { html } from './html.js';

const P = {
  search: 'M10.5 4a6.5 6.5 0 1 0 4.03 11.6l4.43 4.43 1.06-1.06-4.43-4.43A6.5 6.5 0 0 0 10.5 4zm0 1.5a5 5 0 1 1 0 10 5 5 0 0 1 0-10z',
  settings: 'M12 8.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7zm0 1.5a2 2 0 1 1 0 4 2 2 0 0 1 0-4zM10.6 2h2.8l.5 2.6 1.6.9 2.5-.9 1.4 2.4-2 1.7v1.9l2 1.7-1.4 2.4-2.5-.9-1.6.9-.5 2.6h-2.8l-.5-2.6-1.6-.9-2.5.9-1.4-2.4 2-1.7v-1.9l-2-1.7 1.4-2.4 2.5.9 1.6-.9z',
  attach: 'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z',
  back: 'M20 11.25H6.87l5.6-5.6-1.06-1.06L4 12l7.41 7.41 1.06-1.06-5.6-5.6H20z',
  close: 'M6.4 5.3 5.3 6.4 10.9 12l-5.6 5.6 1.1 1.1 5.6-5.6 5.6 5.6 1.1-1.1-5.6-5.6 5.6-5.6-1.1-1.1-5.6 5.6z',
  reply: 'M10 8V4l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z',
  file: 'M6 2h8l5 5v15H6zm7.5 1.5V8h4.5M8 12h8v1.5H8zm0 3h8v1.5H8z',
  lock: 'M12 2.5A4.5 4.5 0 0 0 7.5 7v3H5v11.5h14V10h-2.5V7A4.5 4.5 0 0 0 12 2.5zM9 7a3 3 0 0 1 6 0v3H9zm-2.5 4.5h11V20h-11z',
  clock: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 1.5a7.5 7.5 0 1 1 0 15 7.5 7.5 0 0 1 0-15zM11.25 7v5.56l3.72 3.72 1.06-1.06-3.28-3.28V7z',
};

export function Icon({ name }) {
  return html`<svg class="ico" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path d=${P[name]} fill="currentColor" /></svg>`;
}
