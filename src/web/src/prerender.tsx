// Build step (see scripts/postbuild.mjs): the signed-out page as HTML, for the first paint.
import { StrictMode } from "react";
import { renderToString } from "react-dom/server";

import { App } from "./App";

export function render(): string {
  return renderToString(
    <StrictMode>
      <App initialSession={null} />
    </StrictMode>,
  );
}
