// The dashboard's live panels: a session that ended sends the page to the login form
// instead of swapping the login form into a panel.
document.addEventListener("htmx:beforeSwap", function (event) {
  const url = event.detail.xhr.responseURL || "";
  if (url.indexOf("/login/") !== -1) {
    event.detail.shouldSwap = false;
    window.location.reload();
  }
});
