/* Stand-in for squidfunk/iframe-worker (MIT), which mkdocs-material's offline plugin loads from unpkg.com.
 * Browsers refuse `new Worker(url)` for pages opened from file://, so the search worker runs in a hidden,
 * same-origin iframe instead. Only needed (and only installed) for file:// pages; over http(s) real workers run. */
(function () {
  "use strict";
  if (location.protocol !== "file:") return;

  class IFrameWorker extends EventTarget {
    constructor(url) {
      super();
      this.onmessage = null;
      this.onerror = null;
      this.queue = [];
      this.ready = false;
      this.iframe = document.createElement("iframe");
      this.iframe.setAttribute("aria-hidden", "true");
      this.iframe.tabIndex = -1;
      this.iframe.style.display = "none";
      document.body.appendChild(this.iframe);

      const win = this.iframe.contentWindow;
      const doc = win.document;
      /* The worker's global `postMessage(data)` answers the page */
      win.postMessage = (data) => {
        const ev = new MessageEvent("message", { data: data });
        this.dispatchEvent(ev);
        if (typeof this.onmessage === "function") this.onmessage(ev);
      };
      /* `importScripts` (used for non-English search languages), asynchronous: the search worker awaits it */
      win.importScripts = (...urls) => urls.reduce((done, src) => done.then(() => new Promise((resolve, reject) => {
        const s = doc.createElement("script");
        s.src = new URL(src, url).href;
        s.onload = resolve;
        s.onerror = reject;
        doc.body.appendChild(s);
      })), Promise.resolve());

      const script = doc.createElement("script");
      script.src = new URL(url, location.href).href;
      script.onload = () => {
        this.ready = true;
        this.queue.forEach((data) => this._deliver(data));
        this.queue = [];
      };
      script.onerror = (err) => {
        const ev = new ErrorEvent("error", { message: "could not load " + url, error: err });
        this.dispatchEvent(ev);
        if (typeof this.onerror === "function") this.onerror(ev);
      };
      (doc.body || doc.documentElement).appendChild(script);
    }

    _deliver(data) {
      const win = this.iframe.contentWindow;
      win.dispatchEvent(new win.MessageEvent("message", { data: data }));
    }

    postMessage(data) {
      if (this.ready) this._deliver(data);
      else this.queue.push(data);
    }

    terminate() {
      this.iframe.remove();
    }
  }

  window.IFrameWorker = IFrameWorker;
  window.Worker = IFrameWorker;
})();
