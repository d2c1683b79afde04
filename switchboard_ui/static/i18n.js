// The page's language for every script: English text is the key (switchboard_ui/i18n.py),
// base.html embeds the catalogue of the page's language. Loaded before the page scripts.
"use strict";
{
  const strings = JSON.parse(document.getElementById("i18n")?.textContent || "{}");
  /** Translate ``text`` and fill its {placeholders}; the English text if untranslated. */
  window.t = function t(text, values = {}) {
    return (strings[text] || text).replace(/\{(\w+)\}/g, (whole, key) =>
      key in values ? String(values[key]) : whole);
  };
}
