// Fills the login form from "#token=..." (the address `avflow dashboard` opens), then drops
// the fragment from the address bar. A fragment is never sent to the server.
(function () {
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  window.history.replaceState(null, "", window.location.pathname);
  var input = document.querySelector("input[name=token]");
  if (!input) return;
  input.value = decodeURIComponent(match[1]);
  input.form.submit();
})();
