// The Saltmarsh Courier: page status. When everything has loaded, it counts the pictures that
// decoded, adds up their pixels, notes whether the main stylesheet applied, and marks the page
// as loaded (document.body.dataset.loaded = "1"). A reader sees the summary under the byline;
// a test reads the data-* attributes on <body>.
(function () {
  'use strict';

  function summarize() {
    var body = document.body;
    var images = Array.prototype.slice.call(document.images);
    var decoded = images.filter(function (img) {
      return img.complete && img.naturalWidth > 0 && img.naturalHeight > 0;
    });
    var pixels = decoded.reduce(function (sum, img) {
      return sum + img.naturalWidth * img.naturalHeight;
    }, 0);
    var theme = getComputedStyle(document.documentElement)
      .getPropertyValue('--courier-theme').trim();

    body.dataset.images = String(images.length);
    body.dataset.decoded = String(decoded.length);
    body.dataset.pixels = String(pixels);
    body.dataset.broken = images
      .filter(function (img) { return decoded.indexOf(img) < 0; })
      .map(function (img) { return img.getAttribute('src'); })
      .join(' ');
    body.dataset.theme = theme;
    body.dataset.loaded = '1';

    var out = document.getElementById('page-stats');
    if (out) {
      out.textContent = decoded.length + ' of ' + images.length + ' pictures loaded, ' +
        (pixels / 1e6).toFixed(2) + ' megapixels';
    }
  }

  if (document.readyState === 'complete') {
    summarize();
  } else {
    window.addEventListener('load', summarize);
  }
})();
