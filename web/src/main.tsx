import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { applyTheme, watchSystemTheme } from "./theme";
import "./styles.css";

applyTheme();
watchSystemTheme();

const root = document.getElementById("root");
if (!root) throw new Error("stich: #root is missing from index.html");
createRoot(root).render(
  <StrictMode>
    <ErrorBoundary>
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
