// The case list's bulk reassignment: "select all on this page" ticks every case's box;
// it shows "some" (indeterminate) when only some are ticked. Without this script each box
// is still ticked one by one.
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  var all = form && form.querySelector("[data-pick-all]");
  if (!all) return;
  var boxes = function () {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="case"]'));
  };
  var sync = function () {
    var list = boxes();
    var ticked = list.filter(function (b) { return b.checked; }).length;
    all.checked = ticked > 0 && ticked === list.length;
    all.indeterminate = ticked > 0 && ticked < list.length;
  };
  all.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = all.checked; });
    sync();
  });
  form.addEventListener("change", function (event) {
    if (event.target !== all) sync();
  });
  sync();
})();
