// Entry point. Signed out, the page already shows the sign-in form (rendered into
// index.html at build time): React takes it over as it is. Signed in, the app replaces it.
import { StrictMode } from "react";
import { createRoot, hydrateRoot } from "react-dom/client";

import "./app.css";
import { App } from "./App";
import { currentSession } from "./api/session";

const container = document.getElementById("root");
if (!container) throw new Error("index.html has no #root");
const session = currentSession();
const app = (
  <StrictMode>
    <App initialSession={session} />
  </StrictMode>
);
if (session) createRoot(container).render(app);
else hydrateRoot(container, app);
