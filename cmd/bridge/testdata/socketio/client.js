// A plain socket.io-client user of the chat: node client.js URL TOKEN. It prints "connected"
// once it is, then every event it receives as one JSON line ({"event", "args"}), and emits the
// events it reads on stdin, one JSON line each ({"emit", "args"}).
"use strict";
const { io } = require("socket.io-client");
const readline = require("node:readline");

const socket = io(process.argv[2], { auth: { token: process.argv[3] }, transports: ["websocket"], reconnection: false });
socket.on("connect", () => process.stdout.write("connected\n"));
socket.on("connect_error", (err) => { process.stdout.write("connect_error " + err.message + "\n"); process.exit(1); });
socket.onAny((event, ...args) => process.stdout.write(JSON.stringify({ event, args }) + "\n"));
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const { emit, args } = JSON.parse(line);
  socket.emit(emit, ...args);
});
