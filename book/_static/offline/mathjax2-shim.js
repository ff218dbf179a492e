// ipywidgets' page renderer (html-manager) typesets widget labels with MathJax 2's API,
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has no Hub, so every
// widget with a description or HTML value threw "Cannot read properties of undefined (reading 'Queue')".
// This gives MathJax 3 that one method, forwarding to its typesetPromise. MathJax is loaded with `defer`, so
// it has replaced window.MathJax by DOMContentLoaded, before widgets render.
(function () {
  "use strict";
  function typesetLater(element) {
    var mathjax = window.MathJax;
    var ready = mathjax.startup && mathjax.startup.promise ? mathjax.startup.promise : Promise.resolve();
    ready.then(function () {
      return mathjax.typesetPromise(element ? [element] : undefined);
    }).catch(function (err) {
      console.warn("MathJax could not typeset a widget label:", err);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.version || mathjax.version.charAt(0) !== "3" || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset") typesetLater(job[2]);
        }
      },
    };
  });
})();
