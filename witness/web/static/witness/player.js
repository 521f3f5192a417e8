// The player's watermark (issue 5 item 2, EVD-3): the viewer's name and a clock over the
// picture. The clock counts on from the server's time in data-start (not the device's own
// clock) and is redrawn each second. The full-screen button puts the whole stage, the
// watermark included, into full screen (the video's own full-screen control is hidden,
// as it would show the picture without the watermark). No inline script: loaded as a file.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(value || "");
    if (!m) { return null; }
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  }
  function format(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function startClocks() {
    var clocks = document.querySelectorAll("[data-watermark-clock]");
    if (!clocks.length) { return; }
    var start = parse(clocks[0].getAttribute("data-start"));
    if (start === null) { return; }
    var loaded = Date.now();
    function tick() {
      var text = format(start + (Date.now() - loaded));
      clocks.forEach(function (clock) { clock.textContent = text; });
    }
    tick();
    window.setInterval(tick, 1000);
  }
  function fullScreen() {
    document.querySelectorAll("[data-fullscreen]").forEach(function (button) {
      var stage = button.closest("[data-player]");
      if (!stage || !stage.requestFullscreen) { button.hidden = true; return; }
      button.addEventListener("click", function () {
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else { stage.requestFullscreen(); }
      });
    });
  }
  function noContextMenu() {
    document.querySelectorAll("[data-player] video, [data-player] audio, [data-player] img")
      .forEach(function (media) {
        media.addEventListener("contextmenu", function (event) { event.preventDefault(); });
      });
  }
  function ready() { startClocks(); fullScreen(); noContextMenu(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
}());
