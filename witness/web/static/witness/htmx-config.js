// htmx 2 swaps only 2xx/3xx responses by default. The server answers a refused action
// with 400 (input errors), 409 (the object is not in a state for it) or 422 (the rules
// reject the input) and the part of the page that shows the message: swap those too.
(function () {
  "use strict";
  if (!window.htmx) { return; }
  window.htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "400|409|422", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
    { code: "...", swap: false }
  ];
})();
