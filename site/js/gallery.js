// The Saltmarsh Courier: small comforts for the article. It estimates the reading time, lets a
// reader enlarge a photo by clicking it (Escape shrinks them all again), and folds long comment
// threads behind a button. Loaded with `defer`, so the document is parsed when it runs.
(function () {
  'use strict';

  var article = document.querySelector('article');
  if (article) {
    var words = article.textContent.trim().split(/\s+/).length;
    var minutes = Math.max(1, Math.round(words / 230));
    var slot = document.getElementById('reading-time');
    if (slot) {
      slot.textContent = minutes + ' min read';
    }
    document.body.dataset.words = String(words);
  }

  var figures = document.querySelectorAll('figure.photo');
  Array.prototype.forEach.call(figures, function (figure) {
    figure.addEventListener('click', function () {
      figure.classList.toggle('enlarged');
    });
  });
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') {
      return;
    }
    Array.prototype.forEach.call(figures, function (figure) {
      figure.classList.remove('enlarged');
    });
  });

  var hidden = document.querySelectorAll('.comment.hidden');
  var more = document.getElementById('more-comments');
  if (more && hidden.length > 0) {
    more.textContent = 'Show ' + hidden.length + ' more comments';
    more.addEventListener('click', function () {
      Array.prototype.forEach.call(hidden, function (c) { c.classList.remove('hidden'); });
      more.remove();
    });
  } else if (more) {
    more.remove();
  }
})();
