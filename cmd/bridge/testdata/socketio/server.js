// A Socket.IO chat server of the kind the Socket.IO documentation teaches: an auth middleware
// that checks a token, "chat message" broadcast to everyone (the sender too) with an
// acknowledgement, "typing" to the others, "user joined" and "user left".
//
// Run by the bridge's tests: node server.js [port]. It prints "listening PORT" once it serves,
// then one JSON line per chat message it receives ({"user", "message"}), so that a test can
// count what reached it. PING_INTERVAL, PING_TIMEOUT (ms) and MAX_PAYLOAD (bytes) tune the
// Engine.IO session.
"use strict";
const { createServer } = require("node:http");
const { Server } = require("socket.io");

const users = { "alice-token": "alice", "bob-token": "bob", "carol-token": "carol" };
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  pingInterval: Number(process.env.PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT || 20000),
  maxHttpBufferSize: Number(process.env.MAX_PAYLOAD || 1e6),
});

io.use((socket, next) => {
  const user = users[socket.handshake.auth && socket.handshake.auth.token];
  if (!user) return next(new Error("not authorized"));
  socket.data.user = user;
  next();
});

let seq = 0;
io.on("connection", (socket) => {
  const user = socket.data.user;
  socket.broadcast.emit("user joined", { username: user });

  socket.on("chat message", (msg, ack) => {
    process.stdout.write(JSON.stringify({ user, message: msg }) + "\n");
    if (!msg || typeof msg.text !== "string" || msg.text === "") {
      if (typeof ack === "function") ack({ error: "empty message" });
      return;
    }
    const out = {
      id: "m" + ++seq, username: user, room: msg.room || "general", text: msg.text,
      clientId: msg.clientId, createdAt: new Date().toISOString(),
    };
    io.emit("chat message", out);
    if (typeof ack === "function") ack({ ok: true, id: out.id });
  });

  socket.on("typing", (t) => {
    socket.broadcast.emit("typing", { username: user, room: (t && t.room) || "general", typing: !!(t && t.typing) });
  });

  socket.on("disconnect", () => socket.broadcast.emit("user left", { username: user }));
});

httpServer.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write("listening " + httpServer.address().port + "\n");
});
process.on("SIGTERM", () => process.exit(0));
