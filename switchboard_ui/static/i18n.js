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
  // Times and dates in the site's time zone (base.html's meta site-timezone) and the
  // page's language, 24-hour: "1-12-2026 07:32" in Dutch, "1 Dec 2026 07:32" in English
  // (never the browser's zone or its "12/1/2026, 6:32:32 AM").
  const zone = document.querySelector("meta[name=site-timezone]")?.content || undefined;
  const dutch = document.documentElement.lang === "nl";
  const dateTime = new Intl.DateTimeFormat(dutch ? "nl-NL" : "en-GB", {
    timeZone: zone, day: "numeric", month: dutch ? "numeric" : "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const clockOnly = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const toDate = (when) => (typeof when === "number" ? new Date(when * 1000) : new Date(when));
  /** ``when`` (epoch seconds or an ISO string) as a date and a time of day. */
  window.formatWhen = function formatWhen(when) {
    const p = Object.fromEntries(dateTime.formatToParts(toDate(when)).map((x) => [x.type, x.value]));
    const day = dutch ? `${p.day}-${p.month}-${p.year}` : `${p.day} ${p.month} ${p.year}`;
    return `${day} ${p.hour}:${p.minute}`;
  };
  /** ``when`` as a time of day only ("07:32"), for today's events. */
  window.formatClock = function formatClock(when) {
    return clockOnly.format(toDate(when));
  };
}
