// A real Express app with the api-analytics Node client (node-api-analytics, unchanged): one router per
// privacy level, each with its own key, pointed at Telltale through the client's own Config.serverUrl.
import express from "express";
import { Config, expressAnalytics } from "node-api-analytics";

const app = express();
for (const level of [0, 1, 2]) {
  const config = new Config();
  config.serverUrl = process.env.PEER_SERVER;
  config.privacyLevel = level;
  config.getUserID = (req) => req.headers["x-user-id"] ?? null;
  const router = express.Router();
  router.use(expressAnalytics(process.env[`PEER_KEY_${level}`], config));
  router.get("/items", (req, res) => res.json({ items: [] }));
  router.post("/items", (req, res) => res.status(201).json({ created: true }));
  router.delete("/items/:id", (req, res) => res.status(404).json({ missing: req.params.id }));
  app.use(`/l${level}`, router);
}
app.listen(Number(process.env.PEER_PORT), "127.0.0.1", () => console.log("ready"));
