/* Drawing a geofence on a map of static/js/map.js (load this script before it). Each click on
   the map adds a corner; the polygon lives in the form's GeoJSON textarea, which stays the one
   source of truth: typing or pasting GeoJSON there redraws the map. No inline script or style.

     <div class="map" data-map data-geofence-draw="TEXTAREA-ID" ...></div>
     <button data-geofence-undo="TEXTAREA-ID">  <button data-geofence-clear="TEXTAREA-ID">
     <button data-fill-url="URL" data-fill-target="INPUT-ID">   (puts URL into the input)
     an element #corner-count says how many corners there are. */
(function () {
  "use strict";

  var drawings = {};  // textarea id -> {points, redraw}

  // [latitude, longitude] corners (the ring without its closing point) of the GeoJSON in the
  // textarea: a Polygon, a Feature holding one, or {"geometry": Polygon}; null when unreadable.
  function cornersOf(text) {
    var data;
    try { data = JSON.parse(text); } catch (e) { return null; }
    if (data && (data.type === "Feature" || (!data.type && data.geometry))) { data = data.geometry; }
    if (!data || data.type !== "Polygon" || !Array.isArray(data.coordinates)) { return null; }
    var ring = data.coordinates[0];
    if (!Array.isArray(ring)) { return null; }
    var points = ring.filter(function (p) {
      return Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number";
    }).map(function (p) { return [p[1], p[0]]; });
    var last = points.length - 1;
    if (last > 0 && points[0][0] === points[last][0] && points[0][1] === points[last][1]) {
      points.pop();
    }
    return points;
  }

  function round(value) { return Math.round(value * 1e6) / 1e6; }

  function write(textarea, points) {
    if (!points.length) {
      textarea.value = "";
      return;
    }
    var ring = points.map(function (p) { return [round(p[1]), round(p[0])]; });
    ring.push(ring[0].slice());
    textarea.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
  }

  function say(count) {
    var counter = document.getElementById("corner-count");
    if (!counter) { return; }
    counter.textContent = count === 0 ? "Click the map to add corners."
      : count + (count === 1 ? " corner" : " corners") + (count < 3 ? ": a geofence needs at least three." : ".");
  }

  function attach(element, map) {
    var id = element.getAttribute("data-geofence-draw");
    var textarea = document.getElementById(id);
    if (!textarea || drawings[id]) { return; }
    var layer = L.featureGroup().addTo(map);
    var drawing = { points: cornersOf(textarea.value) || [] };

    drawing.redraw = function (fit) {
      var points = drawing.points;
      layer.clearLayers();
      if (points.length >= 3) {
        L.polygon(points, { className: "map-polygon map-drawing" }).addTo(layer);
      } else if (points.length === 2) {
        L.polyline(points, { className: "map-track" }).addTo(layer);
      }
      points.forEach(function (p) {
        L.circleMarker(p, { className: "map-vertex", radius: 5 }).addTo(layer);
      });
      element.setAttribute("data-corners", String(points.length));
      say(points.length);
      if (fit && points.length) {
        map.fitBounds(layer.getBounds(), { padding: [30, 30], maxZoom: 17 });
      }
    };

    map.on("click", function (event) {
      drawing.points.push([event.latlng.lat, event.latlng.lng]);
      write(textarea, drawing.points);
      drawing.redraw(false);
    });
    textarea.addEventListener("input", function () {
      var points = cornersOf(textarea.value);
      if (points) {
        drawing.points = points;
        drawing.redraw(true);
      }
    });
    drawings[id] = drawing;
    drawing.redraw(true);
    // map.js then fits the map to the devices it shows; an existing shape matters more.
    element.addEventListener("portal:map-drawn", function () {
      if (drawing.points.length) {
        map.fitBounds(layer.getBounds(), { padding: [30, 30], maxZoom: 17 });
      }
    }, { once: true });
  }

  document.addEventListener("click", function (event) {
    var undo = event.target.closest("[data-geofence-undo]");
    var clear = event.target.closest("[data-geofence-clear]");
    var button = undo || clear;
    if (button) {
      var id = button.getAttribute(undo ? "data-geofence-undo" : "data-geofence-clear");
      var drawing = drawings[id];
      var textarea = document.getElementById(id);
      if (!drawing || !textarea) { return; }
      if (undo) { drawing.points.pop(); } else { drawing.points = []; }
      write(textarea, drawing.points);
      drawing.redraw(false);
      return;
    }
    var fill = event.target.closest("[data-fill-url]");
    if (fill) {
      var input = document.getElementById(fill.getAttribute("data-fill-target"));
      if (input) {
        input.value = fill.getAttribute("data-fill-url");
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
  });

  // A geofence form waits on Pulsetracker once sent: say so, and do not let it be sent twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.matches("form[data-busy-on-submit]")) { return; }
    form.classList.add("htmx-request");  // shows its .htmx-indicator (portal.css)
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (button) {
      button.disabled = true;
    });
  });

  // map.js announces each map it makes; this script loads first so it hears every one.
  document.addEventListener("portal:map-ready", function (event) {
    var element = event.detail.element;
    if (element.hasAttribute("data-geofence-draw")) { attach(element, event.detail.map); }
  });
})();
