// Pre-use check: the "time shown on the device" field starts at the server's current
// local time and keeps ticking until the user changes it, so an untouched field is never
// stale. It counts on from the server's value (not the phone's time zone).
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
    if (!m) { return null; }
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  }
  function format(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      "T" + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  document.querySelectorAll("input[data-clock='live']").forEach(function (input) {
    var start = parse(input.value);
    var form = input.closest("form");
    if (start === null || (form && form.querySelector(".has-error, .form-errors"))) { return; }
    var loaded = Date.now();
    var touched = false;
    ["input", "change", "focus"].forEach(function (name) {
      input.addEventListener(name, function () { touched = true; });
    });
    var timer = window.setInterval(function () {
      if (touched) { window.clearInterval(timer); return; }
      input.value = format(start + (Date.now() - loaded));
    }, 1000);
  });
}());
