// Drag and drop for the work board. Without this script every card's move form does the same job.
// Dropping a card on a column fills that card's own move form and submits it, so the server handles a
// drag exactly like a form post (CSRF, WIP limits, recorded transitions). Served from /board/board.js:
// the CSP runs scripts from our own origin only.
(function () {
  "use strict";
  var boardEl = document.getElementById("board");
  if (!boardEl) {
    return;
  }
  var dragged = null;
  boardEl.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".board-card") : null;
    if (!card) {
      return;
    }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-item"));
  });
  boardEl.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("dragging");
    }
    dragged = null;
    Array.prototype.forEach.call(boardEl.querySelectorAll(".drop-target"), function (el) {
      el.classList.remove("drop-target");
    });
  });
  boardEl.addEventListener("dragover", function (event) {
    var column = event.target.closest ? event.target.closest(".board-column") : null;
    if (column && dragged) {
      event.preventDefault();
      column.classList.add("drop-target");
    }
  });
  boardEl.addEventListener("dragleave", function (event) {
    var column = event.target.closest ? event.target.closest(".board-column") : null;
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("drop-target");
    }
  });
  boardEl.addEventListener("drop", function (event) {
    var column = event.target.closest ? event.target.closest(".board-column") : null;
    if (!column || !dragged) {
      return;
    }
    event.preventDefault();
    var form = dragged.querySelector("form.board-move");
    var key = column.getAttribute("data-column");
    if (!form || !key) {
      return;
    }
    var select = form.querySelector("select[name=column]");
    if (select.value === key) {
      return;
    }
    select.value = key;
    form.submit();
  });
})();
