// window.marathonFetch(url, options): fetch() for shared changes (PUT/DELETE /api/knobs,
// POST /api/scenarios/..., POST /api/queue/retry-dead). On loopback the server needs no token;
// beyond it, it answers 401/403 until the instructor's token (MARATHON_ADMIN_TOKEN) comes along.
// Then this asks for the token once, keeps it for the tab (sessionStorage), and retries.
// window.marathonRoom(): the server's view of this tab (GET /api/lesson/room, with the token if
// one is kept), without asking; window.marathonSignIn(): asks for the token when the instructor
// says so (a button), keeps it if the server takes it.
(function () {
  "use strict";
  var KEY = "marathon.adminToken";

  function stored() {
    try { return window.sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function store(token) {
    try {
      if (token) window.sessionStorage.setItem(KEY, token);
      else window.sessionStorage.removeItem(KEY);
    } catch (e) { /* private mode: asked again next time */ }
  }

  function withToken(options, token) {
    var copy = Object.assign({}, options || {});
    var headers = new Headers(copy.headers || {});
    if (token) headers.set("Authorization", "Bearer " + token);
    copy.headers = headers;
    return copy;
  }

  async function message(response) {
    try { return (await response.clone().json()).detail || ""; } catch (e) { return ""; }
  }

  window.marathonToken = stored;

  window.marathonRoom = async function () {
    return (await fetch("/api/lesson/room", withToken({}, stored()))).json();
  };

  window.marathonSignIn = async function () {
    var token = window.prompt("The instructor's token (MARATHON_ADMIN_TOKEN)", "");
    if (!token) return window.marathonRoom();
    var room = await (await fetch("/api/lesson/room", withToken({}, token.trim()))).json();
    if (room.instructor) store(token.trim());
    return room;
  };

  window.marathonFetch = async function (url, options) {
    var response = await fetch(url, withToken(options, stored()));
    if (response.status !== 401 && response.status !== 403) return response;
    if (response.status === 403) {
      // No token is configured on a public bind (the message says how to set one), or
      // MARATHON_KNOBS=off: no token typed here can help.
      var detail = await message(response);
      if (/MARATHON_ADMIN_TOKEN/.test(detail)) window.alert(detail);
      return response;
    }
    var token = window.prompt(
      "This change affects everyone on this server: the instructor's token, please\n" +
      "(MARATHON_ADMIN_TOKEN)", "");
    if (!token) return response;
    store(token.trim());
    response = await fetch(url, withToken(options, stored()));
    if (response.status === 401) store("");  // wrong: ask again next time
    return response;
  };
})();
