// Todo Cloud in the browser: wires the views, the API session and the live stream together.

import { api, onUnauthorized, refreshSession, session, STREAM_URL } from "./api.js";
import { AuthView } from "./auth.js";
import { byId } from "./dom.js";
import { LiveStream } from "./live.js";
import { NotificationsPanel } from "./notifications.js";
import { TaskDialog } from "./task-form.js";
import { TaskBoard } from "./tasks.js";
import { showToast } from "./toast.js";

const LIVE_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", offline: "offline" };

const appView = byId("app-view");
const liveStatus = byId("live-status");
const userName = byId("user-name");

function reportError(err) {
  if (err?.status === 401) return; // handled by signing out
  showToast(err?.message ?? String(err), { title: "Something went wrong", tone: "error", timeout: 8000 });
}

const auth = new AuthView({ onSignedIn: (user) => enterApp(user) });
const dialog = new TaskDialog({
  onSaved: (task, { created }) => {
    showToast(created ? `Created “${task.title}”.` : `Saved “${task.title}”.`);
    board.reload({ keep: true });
  },
});
const board = new TaskBoard({ onEdit: (task, opener) => dialog.open(task, opener), onError: reportError });
const notifications = new NotificationsPanel({ onError: reportError });

let stream = null;
let connectedBefore = false; // a later "ready" is a reconnect: catch up on missed changes

function setLiveStatus(state) {
  liveStatus.dataset.state = state;
  liveStatus.textContent = LIVE_TEXT[state] ?? state;
  liveStatus.title =
    state === "live" ? "Live updates are on" : "Live updates are paused; the page reconnects by itself";
}

function onLiveEvent({ event, data }) {
  if (event === "ready") {
    if (connectedBefore) {
      board.scheduleReload();
      notifications.load();
    }
    connectedBefore = true;
    return;
  }
  if (event !== "refresh") return;
  let change;
  try {
    change = JSON.parse(data)?.data ?? {};
  } catch {
    return;
  }
  if (change.kind === "notification") {
    notifications.load();
    board.scheduleReload(); // a fired reminder moves the task's next reminder
  } else {
    board.scheduleReload();
    if (change.task_id) dialog.notifyChanged(change.task_id);
  }
}

function enterApp(user) {
  auth.hide();
  appView.hidden = false;
  userName.textContent = user?.display_name || user?.email || "";
  userName.title = user?.email ?? "";
  board.reload();
  notifications.load();
  connectedBefore = false;
  stream?.stop();
  stream = new LiveStream({
    url: STREAM_URL,
    token: () => session.token,
    refresh: refreshSession,
    onEvent: onLiveEvent,
    onStatus: setLiveStatus,
    onUnauthorized: () => signOut("Your session has expired. Please sign in again."),
  });
  stream.start();
  byId("tasks-heading").focus();
  // Refresh the name shown, and find out early if the stored token is no longer valid.
  api.me().then((me) => {
    session.save(session.token, me);
    userName.textContent = me.display_name || me.email;
  }, () => {});
}

function signOut(message = "") {
  stream?.stop();
  stream = null;
  session.clear();
  dialog.close();
  board.reset();
  notifications.reset();
  setLiveStatus("offline");
  appView.hidden = true;
  auth.show(message);
}

onUnauthorized(() => signOut("Your session has expired. Please sign in again."));
byId("sign-out").addEventListener("click", () => {
  // Revokes the refresh cookie and ends the access token server-side.
  api.logout().catch(() => {});
  signOut();
});
byId("new-task").addEventListener("click", (e) => dialog.open(null, e.currentTarget));
document.addEventListener("keydown", (e) => {
  // "n" opens a new task, "/" jumps to search (not while typing or with a dialog open).
  if (appView.hidden || e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]")) return;
  if (e.target.closest("input, textarea, select, [contenteditable]")) return;
  if (e.key === "n") {
    e.preventDefault();
    dialog.open(null, byId("new-task"));
  } else if (e.key === "/") {
    e.preventDefault();
    byId("search").focus();
  }
});

if (session.token) enterApp(session.user);
else auth.show();
