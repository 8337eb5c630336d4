// Signed out: the sign-in form; signed in: the app. A session that ends (signing out, an
// expired token, another tab signing out) remounts the sign-in form from scratch.
import { useEffect, useState } from "react";

import { subscribe, type Session } from "./api/session";
import { SignIn } from "./components/SignIn";
import { TaskApp } from "./components/TaskApp";
import { ToastProvider } from "./components/Toasts";

const EXPIRED = "Your session has expired. Please sign in again.";

export function App({ initialSession }: { initialSession: Session | null }) {
  const [session, setSession] = useState(initialSession);
  const [notice, setNotice] = useState("");
  const [generation, setGeneration] = useState(0);

  useEffect(
    () =>
      subscribe((next, reason) => {
        setSession(next);
        setNotice(reason === "expired" ? EXPIRED : "");
        if (!next) setGeneration((g) => g + 1);
      }),
    [],
  );

  return (
    <ToastProvider>
      {session ? (
        <TaskApp key={session.token} session={session} />
      ) : (
        <SignIn key={generation} notice={notice} />
      )}
    </ToastProvider>
  );
}
