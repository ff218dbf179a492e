// Quiz: self-check questions answered in the page (quiz.py). Nothing is sent anywhere; the answers are in the
// data, as in any printed answer key.
// data = {title, questions: [{id, kind: "choice", prompt, options, answer, explanations}
//                            | {id, kind: "number", prompt, answer, tolerance, hint, explanation}]}

// A number typed by a reader: "1,050,624", "1 050 624", "0.25", "-3e-4", ".5"; NaN when it is not a number.
function parseNumber(text) {
  const cleaned = String(text).trim().replace(/[,\s_]/g, "").replace(/\u2212/g, "-");
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(cleaned)) return NaN;
  return Number(cleaned);
}

let quizGroups = 0; // radio groups need page-unique names: several quizzes may share one page

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const root = viewRoot(el, "quiz", data.title);
    const results = data.questions.map(() => null); // null: not answered yet; true / false: last check
    const score = make("p", { class: "te-readout", "data-te-role": "score", "aria-live": "polite" }, root);
    const showScore = () => {
      const right = results.filter((r) => r === true).length;
      const tried = results.filter((r) => r !== null).length;
      score.textContent = `${right} of ${data.questions.length} right` +
        (tried < data.questions.length ? ` (${data.questions.length - tried} not tried yet)` : "");
    };
    data.questions.forEach((q, index) => {
      const box = make("div", { class: "te-question", "data-te-role": "question", "data-te-index": index,
        "data-te-kind": q.kind }, root);
      const promptId = `te-quiz-${q.id}-${index}`;
      make("p", { class: "te-question-prompt", id: promptId }, box, `${index + 1}. ${q.prompt}`);
      const feedback = make("div", { class: "te-feedback", "data-te-role": "feedback", "aria-live": "polite" });
      const say = (state, verdict, text) => {
        feedback.setAttribute("data-te-state", state);
        feedback.replaceChildren();
        make("span", { class: "te-verdict" }, feedback, verdict + " ");
        make("span", {}, feedback, text);
      };
      if (q.kind === "choice") {
        const list = make("ul", { class: "te-options", role: "radiogroup", "aria-labelledby": promptId }, box);
        const name = `te-quiz-group-${(quizGroups += 1)}`;
        const radios = q.options.map((option, i) => {
          const label = make("label", {}, make("li", {}, list));
          const radio = make("input", { type: "radio", name: name, value: i, "data-te-control": "option" }, label);
          make("span", {}, label, option);
          return radio;
        });
        const check = make("button", { type: "button", "data-te-control": "check" }, box, "Check");
        check.addEventListener("click", () => {
          const picked = radios.findIndex((r) => r.checked);
          if (picked < 0) {
            say("wrong", "Pick an answer first.", "");
            return;
          }
          results[index] = picked === q.answer;
          if (results[index]) say("right", "Right.", q.explanations[picked]);
          else say("wrong", "Not quite.", q.explanations[picked] + " Try another answer.");
          showScore();
        });
      } else {
        const input = make("input", { type: "text", inputmode: "decimal", "data-te-control": "number",
          "aria-labelledby": promptId, autocomplete: "off" }, box);
        const check = make("button", { type: "button", "data-te-control": "check" }, box, "Check");
        const reveal = make("button", { type: "button", "data-te-control": "reveal", hidden: "" }, box,
          "Show the answer");
        const onCheck = () => {
          const value = parseNumber(input.value);
          if (!Number.isFinite(value)) {
            say("wrong", "Type a number,", "for example 512, 0.25 or 1,050,624.");
            return;
          }
          results[index] = Math.abs(value - q.answer) <= q.tolerance + 1e-12 * Math.abs(q.answer);
          if (results[index]) say("right", "Right.", q.explanation);
          else {
            say("wrong", "Not quite.", q.hint);
            reveal.hidden = false;
          }
          showScore();
        };
        check.addEventListener("click", onCheck);
        input.addEventListener("keydown", (event) => { if (event.key === "Enter") onCheck(); });
        reveal.addEventListener("click", () => {
          say("revealed", `The answer is ${q.answer.toLocaleString("en-US")}.`, q.explanation);
        });
      }
      box.appendChild(feedback);
    });
    showScore();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
