/* Maps of devices, tracks and areas, drawn with the vendored Leaflet under the strict
   Content-Security-Policy (no inline script or style: Leaflet positions its elements through the
   style properties, which the policy allows).

   Markup (one element per map; any number of maps per page):

     <div class="map" data-map data-tiles="https://tile.example/{z}/{x}/{y}.png"
          data-attribution="&copy; ..." data-map-data="ID" data-map-source="/url.json"
          data-map-poll="10" data-map-status="ID"></div>
     <script type="application/json" id="ID" nonce="...">{...}</script>   (json_script)

   data-map-data names a JSON block drawn at once; data-map-source is a portal URL answering the
   same JSON, fetched every data-map-poll seconds while the tab is visible (paused while hidden,
   fetched again on return). data-map-status names an element that says when the map was last
   refreshed or why it could not be. The JSON (coordinates in Leaflet's [latitude, longitude]
   order):

     {"markers":  [{"id": "k", "label": "Van 7", "lat": 36.75, "lon": 3.06, "url": "/...",
                    "stale": false}],
      "tracks":   [{"id": "k", "label": "Van 7", "points": [[36.75, 3.06], ...]}],
      "polygons": [{"id": "1", "label": "Depot", "points": [[36.75, 3.06], ...]}],
      "error": "optional message shown in the status element"}

   Markers are vector circles (no marker images), so they draw even where tiles cannot load.
   Other scripts build on a map through window.PortalMap: get(element) returns
   {map, layers: {markers, tracks, polygons}}, draw(element, data) redraws it, and every map sends
   "portal:map-ready" (detail: {map, element}) once made. */
(function () {
  "use strict";

  var maps = new WeakMap();

  function readJson(id) {
    var block = id && document.getElementById(id);
    if (!block) { return null; }
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  // Labels are text (device names come from people): Leaflet would read a string as HTML.
  function text(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  function setStatus(element, message, failed) {
    var status = document.getElementById(element.getAttribute("data-map-status") || "");
    if (!status) { return; }
    status.textContent = message;
    status.classList.toggle("bad", Boolean(failed));
  }

  function make(element) {
    var map = L.map(element, { worldCopyJump: true }).setView([20, 0], 2);
    var tiles = element.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, {
        maxZoom: 19,
        attribution: element.getAttribute("data-attribution") || "",
      }).addTo(map);
    }
    var entry = {
      map: map,
      fitted: false,
      layers: {
        polygons: L.featureGroup().addTo(map),
        tracks: L.featureGroup().addTo(map),
        markers: L.featureGroup().addTo(map),
      },
    };
    maps.set(element, entry);
    return entry;
  }

  function draw(element, data) {
    var entry = maps.get(element) || make(element);
    var layers = entry.layers;
    data = data || {};
    layers.polygons.clearLayers();
    layers.tracks.clearLayers();
    layers.markers.clearLayers();
    (data.polygons || []).forEach(function (p) {
      var polygon = L.polygon(p.points, { className: "map-polygon" });
      if (p.label) { polygon.bindTooltip(text(p.label)); }
      polygon.addTo(layers.polygons);
    });
    (data.tracks || []).forEach(function (t) {
      if (!t.points || !t.points.length) { return; }
      var line = L.polyline(t.points, { className: "map-track", weight: 4 });
      if (t.label) { line.bindTooltip(text(t.label)); }
      line.addTo(layers.tracks);
      // The newest point (the first: histories are newest first) is marked as where it ended.
      L.circleMarker(t.points[0], { className: "map-track-end", radius: 5 }).addTo(layers.tracks);
    });
    (data.markers || []).forEach(function (m) {
      var marker = L.circleMarker([m.lat, m.lon], {
        className: "map-marker" + (m.stale ? " map-marker-stale" : ""), radius: 8,
      });
      if (m.label) {
        marker.bindTooltip(text(m.label), { permanent: true, direction: "top", className: "map-label" });
      }
      if (m.url) {
        marker.on("click", function () { window.location.href = m.url; });
      }
      marker.addTo(layers.markers);
    });
    if (!entry.fitted) {
      var bounds = L.featureGroup([layers.polygons, layers.tracks, layers.markers]).getBounds();
      if (bounds.isValid()) {
        entry.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
        entry.fitted = true;
      }
    }
    setStatus(element, data.error || ("Updated " + new Date().toLocaleTimeString()), data.error);
    element.dispatchEvent(new CustomEvent("portal:map-drawn", { bubbles: true, detail: data }));
  }

  function poll(element) {
    var source = element.getAttribute("data-map-source");
    var seconds = parseInt(element.getAttribute("data-map-poll"), 10);
    if (!source || !(seconds > 0)) { return; }
    var timer = null;
    var inFlight = false;

    function schedule() {
      clearTimeout(timer);
      timer = document.visibilityState === "visible" ? setTimeout(fetchNow, seconds * 1000) : null;
    }

    function fetchNow() {
      if (inFlight || !element.isConnected) { return; }
      inFlight = true;
      fetch(source, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("the portal answered " + response.status); }
          if ((response.headers.get("Content-Type") || "").indexOf("json") < 0) {
            // A log-in page, after the session ended.
            throw new Error("the portal did not send map data; reload the page");
          }
          return response.json();
        })
        .then(function (data) {
          // A failed refresh keeps what the map shows and says why.
          if (data.error && !data.markers) { setStatus(element, data.error, true); } else { draw(element, data); }
        })
        .catch(function (error) { setStatus(element, "Could not refresh the map: " + error.message, true); })
        .then(function () { inFlight = false; schedule(); });
    }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { fetchNow(); } else { clearTimeout(timer); }
    });
    schedule();
  }

  function start(root) {
    if (typeof L === "undefined") { return; }
    var elements = root.querySelectorAll ? root.querySelectorAll("[data-map]") : [];
    Array.prototype.forEach.call(elements, function (element) {
      if (maps.has(element)) { return; }
      var entry = make(element);
      element.dispatchEvent(new CustomEvent("portal:map-ready", {
        bubbles: true, detail: { map: entry.map, element: element },
      }));
      draw(element, readJson(element.getAttribute("data-map-data")));
      poll(element);
    });
  }

  window.PortalMap = {
    get: function (element) { return maps.get(element); },
    draw: draw,
    start: start,
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(document); });
  } else {
    start(document);
  }
  // Maps inside fragments that htmx swaps in.
  document.addEventListener("htmx:load", function (event) { start(event.target); });
})();
