// Probot baseline for bench/ingress.py: verify and dispatch to a no-op handler, persist nothing.
export default (app) => {
  app.on("pull_request", async () => {});
};
