// client-worker.js: the SharedWorker that holds the stream for every tab of this origin
// (client.js starts it). Each tab talks to it over its own MessagePort:
//   tab -> worker: {t: 'join', url, since, start}   follow the stream from since
//                  {t: 'leave'}                     the tab goes away
//                  {t: 'online'}                    the browser is back online
//   worker -> tab: the StreamHub's messages ({t: 'event' | 'state' | 'reset', ...})
import { StreamHub } from './stream.js';

let hub = null;
let nextPeer = 0;

self.addEventListener('connect', (/** @type {MessageEvent} */ e) => {
  const port = e.ports[0];
  const peer = ++nextPeer;
  port.addEventListener('message', (m) => {
    const msg = m.data ?? {};
    switch (msg.t) {
      case 'join':
        hub ??= new StreamHub(msg.url);
        hub.join(peer, (out) => port.postMessage(out), msg.since ?? '', msg.start ?? '');
        break;
      case 'leave':
        hub?.leave(peer);
        port.close();
        break;
      case 'online':
        hub?.reconnectNow();
        break;
    }
  });
  port.start();
});
