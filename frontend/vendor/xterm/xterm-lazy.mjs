// The module `xterm` the page's import map names: xterm.js itself (/xterm.mjs, 345 KB) is
// fetched only when a page first shows a terminal, by `loadXterm()`; until then nothing of it
// is loaded. `Terminal` makes xterm.js's own terminal, once it is there. The loaded module is
// kept on `globalThis`, so every copy of this file shares it.
const KEY = "changeauditXterm";

export function loadXterm() {
  globalThis[KEY + "Loading"] ??= import("/xterm.mjs").then((module) => {
    globalThis[KEY] = module;
  });
  return globalThis[KEY + "Loading"];
}

export class Terminal {
  constructor(options) {
    const xterm = globalThis[KEY];
    if (!xterm) {
      throw new Error("xterm.js is not loaded yet: await loadXterm() first");
    }
    return new xterm.Terminal(options);
  }
}
