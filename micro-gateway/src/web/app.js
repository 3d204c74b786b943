// micro's dashboard: live services, call and stream forms, health, topics.
// Every string from the registry or a service goes into the page as text (textContent), never
// as markup.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

// The services list, rebuilt from /web/services on every registry event.
function liveServices() {
  const table = $("#services tbody");
  if (!table) return;
  const status = $("#live");
  const refresh = async () => {
    const services = await (await fetch("/web/services")).json();
    const rows = services.map((service) => {
      const row = document.createElement("tr");
      row.dataset.service = service.name;
      const link = document.createElement("a");
      link.href = "/service/" + encodeURIComponent(service.name);
      link.textContent = service.name;
      const cells = [link, service.versions.join(", "), String(service.nodes)];
      for (const value of cells) {
        const cell = document.createElement("td");
        if (typeof value === "string") cell.textContent = value; else cell.append(value);
        row.append(cell);
      }
      return row;
    });
    table.replaceChildren(...rows);
    $("#no-services").hidden = services.length > 0;
    status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  };
  const events = new EventSource("/web/events");
  events.onmessage = () => refresh().catch(() => {});
  events.onerror = () => { status.textContent = "Reconnecting to the registry…"; };
}

// The request a call form describes: the JSON box if filled, else its fields.
function request(form) {
  const json = form.elements.json && form.elements.json.value.trim();
  if (json) return JSON.parse(json);
  const body = {};
  for (const input of $$("input[data-kind]", form)) {
    let value;
    switch (input.dataset.kind) {
      case "bool": if (!input.checked) continue; value = true; break;
      case "number": if (input.value === "") continue; value = Number(input.value); break;
      case "json": if (input.value === "") continue; value = JSON.parse(input.value); break;
      default: if (input.value === "") continue; value = input.value;
    }
    const path = input.name.split(".");
    // Field names come from the registry: none may reach an object's prototype.
    if (path.some((part) => part === "__proto__" || part === "constructor" || part === "prototype")) continue;
    let at = body;
    for (const part of path.slice(0, -1)) at = at[part] = at[part] || {};
    at[path[path.length - 1]] = value;
  }
  return body;
}

// Unary calls through the gateway's /rpc, with the reply or error and the latency.
function callForms() {
  for (const form of $$("form.call")) {
    const article = form.closest("article");
    const result = $(".result", article);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reply = $(".reply", result), error = $(".error", result), latency = $(".latency", result);
      reply.hidden = true; error.hidden = true;
      let body;
      try { body = request(form); } catch (e) { latency.textContent = "Not JSON: " + e.message; return; }
      const started = performance.now();
      const response = await fetch("/api/rpc", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ service: article.dataset.service, endpoint: article.dataset.endpoint, request: body }),
      });
      const text = await response.text();
      const took = performance.now() - started;
      latency.textContent = (response.ok ? "Answered" : "Failed") + " in " + took.toFixed(1) + " ms";
      let parsed;
      try { parsed = JSON.parse(text); } catch { parsed = text; }
      if (response.ok) {
        reply.textContent = JSON.stringify(parsed, null, 2);
        reply.hidden = false;
      } else {
        $(".error-id", error).textContent = parsed.id || "";
        $(".error-code", error).textContent = String(parsed.code || response.status);
        $(".error-detail", error).textContent = parsed.detail || text;
        error.hidden = false;
      }
    });
  }
}

// Streams over a WebSocket to the gateway: the lines go out, then an empty frame (end of input).
function streamForms() {
  for (const form of $$("form.stream")) {
    const article = form.closest("article");
    const list = $(".messages", article), status = $(".stream-status", article);
    const close = $(".close", form);
    let socket = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (socket) socket.close();
      list.replaceChildren();
      const lines = form.elements.messages.value.split("\n").map((l) => l.trim()).filter(Boolean);
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const path = "/api/" + encodeURIComponent(article.dataset.service) + "/" + encodeURIComponent(article.dataset.endpoint);
      const opened = new WebSocket(scheme + location.host + path);
      socket = opened;
      status.textContent = "Opening…";
      close.disabled = false;
      opened.onopen = () => {
        status.textContent = "Open.";
        for (const line of lines) opened.send(line);
        opened.send("");
      };
      opened.onmessage = (message) => {
        if (socket !== opened) return;
        const item = document.createElement("li");
        item.textContent = message.data;
        list.append(item);
      };
      opened.onclose = (closed) => {
        // A stream replaced by a newer one says nothing more.
        if (socket !== opened) return;
        status.textContent = closed.code === 1000
          ? "Ended after " + list.children.length + " messages."
          : "Closed: " + closed.code + (closed.reason ? " " + closed.reason : "");
        close.disabled = true;
        socket = null;
      };
    });
    close.addEventListener("click", () => socket && socket.close());
  }
}

// Debug.Health of every node.
function health() {
  const button = $("#health");
  if (!button) return;
  button.addEventListener("click", async () => {
    const table = $("#health-table");
    const rows = await (await fetch("/web/health/" + encodeURIComponent(button.dataset.service))).json();
    $("tbody", table).replaceChildren(...rows.map((node) => {
      const row = document.createElement("tr");
      const status = node.error ? node.status + " (" + node.error + ")" : node.status;
      for (const value of [node.id, node.address, status, node.latency_ms.toFixed(1) + " ms"]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    }));
    table.hidden = false;
  });
}

// Publish and watch topics.
function topics() {
  const publish = $("#publish");
  if (!publish) return;
  publish.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/web/publish", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: publish.elements.topic.value, message: publish.elements.message.value }),
    });
    const answer = await response.json();
    $("#published").textContent = response.ok ? "Published " + answer.id + "." : "Failed: " + answer.detail;
  });
  let watching = null;
  const watch = $("#watch");
  watch.addEventListener("submit", (event) => {
    event.preventDefault();
    if (watching) watching.close();
    const topic = watch.elements.topic.value;
    $("#watched").replaceChildren();
    watching = new EventSource("/web/subscribe?topic=" + encodeURIComponent(topic));
    watching.onopen = () => { $("#watch-status").textContent = "Watching " + topic + "."; };
    watching.onmessage = (message) => {
      const item = document.createElement("li");
      item.textContent = JSON.stringify(JSON.parse(message.data).body);
      $("#watched").append(item);
    };
  });
}

liveServices();
callForms();
streamForms();
health();
topics();
