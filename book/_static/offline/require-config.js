// Points require.js at the book's own copies of the libraries that notebook outputs ask for, so that no page
// needs the network. Loaded on every page right after require.js (see html_js_files in _config.yml).
//
// Sphinx writes the relative path from the current page to the site root into <html data-content_root>,
// so the URLs below are right at any depth and when the book is served under a sub-path or from file://.
(function () {
  "use strict";
  var root = document.documentElement.dataset.content_root || "./";
  var offline = new URL(root + "_static/offline/", document.baseURI).href;
  var htmlManager = offline + "html-manager/embed-amd";
  window.requirejs.config({
    paths: {
      // bertviz's views (see transformer_edu/viz/bertviz_views.py)
      d3: offline + "d3/d3.min",
      jquery: offline + "jquery/jquery.min",
      // anywidget views: the saved widget state names the module "anywidget"
      anywidget: offline + "anywidget/index",
      // embed-amd.js defines these modules itself; mapping their names to its real location gives them a
      // correct module URI, from which the bundle finds its icon fonts (stored next to it).
      "@jupyter-widgets/base": htmlManager,
      "@jupyter-widgets/controls": htmlManager,
      "@jupyter-widgets/html-manager": htmlManager,
      "@jupyter-widgets/html-manager/dist/libembed-amd": htmlManager,
      "@jupyter-widgets/base7": htmlManager,
      "@jupyter-widgets/controls7": htmlManager,
    },
  });
  // bertviz_views.py's loader looks for this to know that the page already provides d3 and jquery.
  window.transformerEduOffline = offline;
})();
