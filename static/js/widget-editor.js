/* The Pulsoid widget editor, in the browser only: adds and removes colour zones, keeps the fields,
   the colour pickers and the JSON in step as the person types, and draws a preview of the BPM
   widget from what is typed. Nothing here swaps or rebuilds an input someone may be typing in,
   and nothing talks to the network: saving posts the form, and the heart rate comes from the
   portal's polled fragment (#heart-rate-live), so no token ever reaches the browser.
   Loaded only on the editor page; no inline handlers or styles, so a strict CSP holds. */
(function () {
  "use strict";

  var HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  var FONT = /^[A-Za-z0-9 _.,\-]{1,100}$/;
  var GENERIC_FAMILIES = ["serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"];
  var ZONE_NAME = /zones-(?:\d+|__prefix__)-/g;

  var bpm = null;  // the latest heart rate from the portal, or null before any arrives

  function colour(value) {
    value = typeof value === "string" ? value.trim() : "";
    return HEX.test(value) ? value : "";
  }

  // `#rgb` as `#rrggbb`, the only form `<input type=color>` takes.
  function longHex(value) {
    if (value.length === 4) {
      value = "#" + value[1] + value[1] + value[2] + value[2] + value[3] + value[3];
    }
    return value.toLowerCase();
  }

  // A font-family for the typed names, each quoted, with a generic fallback ("" when unusable).
  function fontFamily(value) {
    if (typeof value !== "string" || !FONT.test(value)) { return ""; }
    var names = value.split(",").map(function (name) { return name.trim(); });
    if (names.some(function (name) { return !name; })) { return ""; }
    return names.map(function (name) {
      return GENERIC_FAMILIES.indexOf(name.toLowerCase()) >= 0 ? name : '"' + name + '"';
    }).concat(["sans-serif"]).join(", ");
  }

  function isNumber(value) {
    return typeof value === "number" && isFinite(value);
  }

  // The colour of the zone holding `rate`: from <= rate < to, or its top edge when no zone starts
  // there; as Pulsoid's viewer draws it.
  function zoneColour(ranges, rate) {
    if (!Array.isArray(ranges)) { return ""; }
    var zones = ranges.filter(function (zone) {
      return zone && isNumber(zone.from) && isNumber(zone.to);
    });
    var inside = zones.filter(function (z) { return z.from <= rate && rate < z.to; })[0] ||
      zones.filter(function (z) { return z.from <= rate && rate <= z.to; })[0];
    return inside ? colour(inside.color) : "";
  }

  function drawPreview(box, configuration) {
    var heart = box.querySelector(".preview-heart");
    var number = box.querySelector(".preview-bpm");
    heart.hidden = configuration.heartEnabled !== true;
    heart.style.color = colour(configuration.heartColor);
    number.textContent = bpm === null ? "--" : String(bpm);
    number.style.color = bpm === null ? "" : zoneColour(configuration.ranges, bpm);
    box.style.fontFamily = fontFamily(configuration.font);
  }

  function readHeartRate() {
    var reading = document.querySelector("#heart-rate-live [data-bpm]");
    var value = reading ? parseInt(reading.getAttribute("data-bpm"), 10) : NaN;
    bpm = isNaN(value) ? null : value;
  }

  // The editor: one form, its zone rows, the JSON textarea and the preview.
  function Editor(form, preview) {
    var json = form.elements.advanced;
    var synced = form.elements.synced;
    var total = form.elements["zones-TOTAL_FORMS"];
    var maxZones = parseInt(form.elements["zones-MAX_NUM_FORMS"].value, 10) || 10;
    var list = form.querySelector("[data-zone-list]");
    var noZones = form.querySelector("[data-no-zones]");
    var addButton = form.querySelector("[data-add-zone]");
    var template = document.getElementById("zone-template");
    var problem = document.getElementById("json-problem");
    var loaded = parse(json.value);
    var base = loaded.value || {};  // the whole configuration, unknown keys too
    var jsonBroken = Boolean(loaded.error);  // the JSON as typed does not parse (yet)

    function parse(text) {
      var value;
      try {
        value = JSON.parse(text.trim() || "{}");
      } catch (e) {
        return { error: "This is not valid JSON: " + e.message + "." };
      }
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        return { error: "The configuration must be a JSON object, written between { and }." };
      }
      return { value: value };
    }

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("[data-zone]"));
    }

    function field(row, name) {
      return row.querySelector("[name$='-" + name + "']");
    }

    function asNumber(text) {
      return /^\s*\d+\s*$/.test(text) ? parseInt(text, 10) : text.trim();
    }

    // The configuration the fields say, over the JSON's (mirrors WidgetEditor.configuration).
    function configuration() {
      var result = JSON.parse(JSON.stringify(base));
      result.heartEnabled = form.elements.heart_enabled.checked;
      [["heartColor", "heart_color"], ["font", "font"]].forEach(function (pair) {
        var value = form.elements[pair[1]].value.trim();
        if (value) { result[pair[0]] = value; } else { delete result[pair[0]]; }
      });
      var zones = rows().map(function (row) {
        return {
          from: asNumber(field(row, "start").value),
          to: asNumber(field(row, "end").value),
          color: field(row, "color").value.trim()
        };
      });
      if (zones.length) { result.ranges = zones; } else { delete result.ranges; }
      return result;
    }

    // Fields changed: rewrite the JSON from them, unless the person is midway through JSON
    // that does not parse (their text is kept; saving then shows its error).
    function writeJson() {
      if (jsonBroken) { return; }
      base = configuration();
      json.value = JSON.stringify(base, null, 2);
      synced.value = json.value;
    }

    // The JSON changed: fill the fields from it when it parses; the textarea is left as typed.
    function readJson() {
      var parsed = parse(json.value);
      jsonBroken = Boolean(parsed.error);
      problem.textContent = parsed.error || "";
      problem.hidden = !parsed.error;
      if (parsed.error) { return; }
      base = parsed.value;
      synced.value = json.value;
      form.elements.heart_enabled.checked = Boolean(base.heartEnabled);
      form.elements.heart_color.value = typeof base.heartColor === "string" ? base.heartColor : "";
      form.elements.font.value = typeof base.font === "string" ? base.font : "";
      var zones = Array.isArray(base.ranges) ? base.ranges.filter(function (zone) {
        return zone && typeof zone === "object" && !Array.isArray(zone);
      }) : [];
      while (rows().length > Math.min(zones.length, maxZones)) { removeRow(rows().pop()); }
      while (rows().length < Math.min(zones.length, maxZones)) { addRow(); }
      rows().forEach(function (row, index) {
        var zone = zones[index];
        field(row, "start").value = zone.from === undefined ? "" : String(zone.from);
        field(row, "end").value = zone.to === undefined ? "" : String(zone.to);
        field(row, "color").value = zone.color === undefined ? "" : String(zone.color);
      });
      Array.prototype.forEach.call(form.querySelectorAll(".colour-input input[type=text]"),
        function (text) { checkColour(text, false); });
      syncPickers();
    }

    // Zone rows are numbered 0..n-1 in their names and ids, as Django's formset reads them.
    function renumber() {
      rows().forEach(function (row, index) {
        var named = row.querySelectorAll("[id], [name], [for], [aria-describedby], [data-colour-for]");
        Array.prototype.forEach.call(named, function (element) {
          ["id", "name", "for", "aria-describedby", "data-colour-for"].forEach(function (attr) {
            var value = element.getAttribute(attr);
            if (value) { element.setAttribute(attr, value.replace(ZONE_NAME, "zones-" + index + "-")); }
          });
        });
      });
      var count = rows().length;
      total.value = String(count);
      noZones.hidden = count > 0;
      addButton.disabled = count >= maxZones;
    }

    function addRow() {
      var fragment = template.content.cloneNode(true);
      list.appendChild(fragment);
      renumber();
      return rows()[rows().length - 1];
    }

    function removeRow(row) {
      list.removeChild(row);
      renumber();
    }

    function addZone() {
      if (rows().length >= maxZones) { return; }
      var last = rows()[rows().length - 1];
      var start = last ? parseInt(field(last, "end").value, 10) : NaN;
      start = isNaN(start) ? 60 : start;
      var row = addRow();
      field(row, "start").value = String(start);
      field(row, "end").value = String(start + 40);
      field(row, "color").value = "#ff3366";
      syncPickers();
      writeJson();
      redraw();
      field(row, "start").focus();
    }

    function removeZone(row) {
      var all = rows();
      var index = all.indexOf(row);
      removeRow(row);
      writeJson();
      redraw();
      // Focus goes to the zone that took its place, or the one before, or Add zone.
      var next = rows()[Math.min(index, rows().length - 1)];
      (next ? next.querySelector("[data-remove-zone]") : addButton).focus();
    }

    function syncPickers() {
      var pickers = form.querySelectorAll("input[type=color][data-colour-for]");
      Array.prototype.forEach.call(pickers, function (picker) {
        var text = document.getElementById(picker.getAttribute("data-colour-for"));
        var value = text && colour(text.value);
        if (value) { picker.value = longHex(value); }
      });
    }

    function redraw() {
      drawPreview(preview, configuration());
    }

    // A colour field that is not a colour says so once the person leaves it, and stops saying
    // so as soon as it is one (the server refuses it on save either way).
    function checkColour(text, leaving) {
      var fieldBox = text.closest(".field");
      var shown = fieldBox.querySelector("[data-colour-problem]");
      var wrong = text.value.trim() !== "" && !colour(text.value);
      if (!wrong) {
        if (shown) { fieldBox.removeChild(shown); }
        if (!fieldBox.querySelector(".errorlist")) { text.removeAttribute("aria-invalid"); }
        return;
      }
      if (!leaving || shown || fieldBox.querySelector(".errorlist")) { return; }
      shown = document.createElement("p");
      shown.className = "errorlist";
      shown.setAttribute("data-colour-problem", "");
      shown.setAttribute("data-testid", "colour-problem");
      shown.setAttribute("role", "status");
      shown.textContent = "Use a colour written #rgb or #rrggbb, such as #f36 or #ff3366.";
      fieldBox.appendChild(shown);
      text.setAttribute("aria-invalid", "true");
    }

    function isColourText(element) {
      return element.type === "text" && element.closest(".colour-input") !== null;
    }

    form.addEventListener("input", function (event) {
      var target = event.target;
      if (target === json) {
        readJson();
      } else {
        if (target.type === "color" && target.hasAttribute("data-colour-for")) {
          var text = document.getElementById(target.getAttribute("data-colour-for"));
          text.value = target.value;
          checkColour(text, false);
        } else if (isColourText(target)) {
          checkColour(target, false);
          syncPickers();
        }
        writeJson();
      }
      redraw();
    });

    form.addEventListener("change", function (event) {
      if (isColourText(event.target)) { checkColour(event.target, true); }
    });

    form.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove-zone]");
      if (remove) {
        removeZone(remove.closest("[data-zone]"));
      } else if (event.target.closest("[data-add-zone]")) {
        addZone();
      }
    });

    // Saving waits on Pulsoid: say so, and do not send it twice.
    form.addEventListener("submit", function (event) {
      var button = form.querySelector("button[type=submit]");
      if (button.disabled) {
        event.preventDefault();
        return;
      }
      button.setAttribute("data-label", button.textContent);
      button.textContent = "Saving…";
      button.setAttribute("aria-busy", "true");
      setTimeout(function () { button.disabled = true; }, 0);
    });

    // Back to a page kept by the browser: the button works again.
    window.addEventListener("pageshow", function () {
      var button = form.querySelector("button[type=submit][aria-busy]");
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = button.getAttribute("data-label");
      }
    });

    renumber();
    syncPickers();
    this.redraw = redraw;
  }

  function start() {
    var preview = document.querySelector("[data-testid=widget-preview]");
    var form = document.querySelector("form[data-widget-editor]");
    var redraw;
    if (form && preview) {
      redraw = new Editor(form, preview).redraw;
    } else if (preview) {
      var saved = JSON.parse(preview.getAttribute("data-configuration") || "{}");
      redraw = function () { drawPreview(preview, saved); };
    } else {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-swatch]"), function (swatch) {
      swatch.style.backgroundColor = colour(swatch.getAttribute("data-swatch"));
    });
    readHeartRate();
    redraw();
    document.addEventListener("htmx:afterSwap", function (event) {
      if (event.target.id === "heart-rate-live") {
        readHeartRate();
        redraw();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
