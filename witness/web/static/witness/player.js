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
  // Controls (issue 8 item 3): speed, frame step by the probed frame rate, seeking to gaps
  // and markers, the source switch keeping the position, keyboard shortcuts, markers.
  var SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
  function controls() {
    var panel = document.querySelector("[data-controls]");
    var media = document.querySelector("[data-player] video, [data-player] audio");
    if (!panel || !media) { return; }
    var fps = parseFloat(panel.getAttribute("data-frame-rate")) || 25;
    var speed = panel.querySelector("[data-speed]");
    var shown = panel.querySelector("[data-position]");
    function seek(t) {
      var end = isFinite(media.duration) ? media.duration : t;
      media.currentTime = Math.max(0, Math.min(t, end));
    }
    function setSpeed(v) {
      v = Math.max(0.5, Math.min(2, v));
      media.playbackRate = v;
      if (speed) { speed.value = String(v); }
    }
    function step(n) { media.pause(); seek(media.currentTime + n / fps); }
    function toggle() { if (media.paused) { media.play(); } else { media.pause(); } }
    var start = new URLSearchParams(window.location.search).get("t");
    if (start !== null && !isNaN(parseFloat(start))) {
      media.addEventListener("loadedmetadata", function () { seek(parseFloat(start)); },
        { once: true });
    }
    media.addEventListener("timeupdate", function () {
      if (shown) { shown.textContent = media.currentTime.toFixed(3) + " s"; }
    });
    if (speed) {
      speed.addEventListener("change", function () { setSpeed(parseFloat(speed.value)); });
    }
    panel.addEventListener("click", function (event) {
      var target = event.target.closest("[data-seek], [data-action], [data-source-switch]");
      if (!target) { return; }
      if (target.hasAttribute("data-seek")) {
        seek(parseFloat(target.getAttribute("data-seek")));
      } else if (target.hasAttribute("data-source-switch")) {
        var url = new URL(target.href);
        url.searchParams.set("t", media.currentTime.toFixed(3));
        target.href = url.toString();
      } else {
        var action = target.getAttribute("data-action");
        if (action === "play") { toggle(); }
        if (action === "frame-back") { step(-1); }
        if (action === "frame-forward") { step(1); }
      }
    });
    var form = panel.querySelector("[data-marker-form]");
    var position = panel.querySelector("[data-marker-position]");
    if (form && position) {
      media.addEventListener("pause", function () {
        position.value = media.currentTime.toFixed(3);
      });
    }
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey ||
          event.metaKey || event.altKey) { return; }
      var i = SPEEDS.indexOf(media.playbackRate);
      var handled = true;
      switch (event.key) {
        case " ": toggle(); break;
        case "ArrowLeft": seek(media.currentTime - 5); break;
        case "ArrowRight": seek(media.currentTime + 5); break;
        case ",": step(-1); break;
        case ".": step(1); break;
        case "[": setSpeed(SPEEDS[Math.max(0, (i < 0 ? 2 : i) - 1)]); break;
        case "]": setSpeed(SPEEDS[Math.min(SPEEDS.length - 1, (i < 0 ? 2 : i) + 1)]); break;
        case "m": case "M":
          if (form && position) {
            position.value = media.currentTime.toFixed(3);
            var note = form.querySelector("[data-marker-note]");
            if (note) { note.focus(); } else { form.requestSubmit(); }
          }
          break;
        default: handled = false;
      }
      if (handled) { event.preventDefault(); }
    });
  }
  function ready() { startClocks(); fullScreen(); noContextMenu(); controls(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
}());
