// The serving node's description (AdminService.GetServerInfo), fetched once
// per page load and shared by the screens that show it (Home, Settings).
import { useCallback, useEffect, useState } from "react";
import { admin, describe, type Problem } from "./api";
import type { GetServerInfoResponse } from "./gen/stich/v1/admin_pb";

let cached: Promise<GetServerInfoResponse> | undefined;

function load(): Promise<GetServerInfoResponse> {
  if (!cached) {
    cached = admin.getServerInfo({});
    // A failure is not cached: the next caller (or Retry) asks again.
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}

/** providerNote explains a provider label in a few words. */
export function providerNote(label: string): string {
  return label.includes("no model") ? "deterministic, no AI model involved" : "an AI model writes the code";
}

export interface ServerInfoState {
  info?: GetServerInfoResponse;
  problem?: Problem;
  retry: () => void;
}

/** useServerInfo loads the server's description; problem is set when that failed. */
export function useServerInfo(): ServerInfoState {
  const [info, setInfo] = useState<GetServerInfoResponse>();
  const [problem, setProblem] = useState<Problem>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (r) => live && (setInfo(r), setProblem(undefined)),
      (err) => live && setProblem(describe(err, "ask the server about itself")),
    );
    return () => {
      live = false;
    };
  }, [attempt]);
  const retry = useCallback(() => {
    setProblem(undefined);
    setAttempt((n) => n + 1);
  }, []);
  return { info, problem, retry };
}
