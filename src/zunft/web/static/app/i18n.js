// One catalogue per language (i18n/de.js, i18n/en.js); German is the default.
import de from "./i18n/de.js";
import en from "./i18n/en.js";

const CATALOGUES = { de, en };
let lang = localStorage.getItem("zunft.lang") === "en" ? "en" : "de";

export function language() {
  return lang;
}

export function setLanguage(next) {
  lang = CATALOGUES[next] ? next : "de";
  localStorage.setItem("zunft.lang", lang);
  document.documentElement.lang = lang;
}

// t("key", {name: "x"}) with {name} placeholders; a missing key shows itself (and a test fails).
export function t(key, params) {
  let text = CATALOGUES[lang][key];
  if (text === undefined) text = key;
  if (params) {
    for (const [k, v] of Object.entries(params)) text = text.split("{" + k + "}").join(String(v));
  }
  return text;
}

export function keys(code) {
  return Object.keys(CATALOGUES[code]);
}

export function formatTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const locale = lang === "de" ? "de-DE" : "en-GB";
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  }
  return d.toLocaleDateString(locale, { day: "2-digit", month: "2-digit" }) +
    " " + d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
}

document.documentElement.lang = lang;
