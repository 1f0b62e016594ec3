/**
 * The authoring form of a lesson's quiz: passing score, attempts, and questions of the three kinds
 * (single choice, multiple choice, numeric with a tolerance) with their answers and explanations.
 * The server checks everything again (AuthoringService names each bad field).
 */
import { create } from "@bufbuild/protobuf";
import {
  ChoiceSchema,
  QuestionContentSchema,
  QuestionKind,
  QuizContentSchema,
  type QuestionContent,
  type QuizContent,
} from "@gen/trading/education/v1/education_pb";
import { useId } from "react";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";

const KINDS = [
  { value: String(QuestionKind.SINGLE_CHOICE), label: "Single choice" },
  { value: String(QuestionKind.MULTIPLE_CHOICE), label: "Multiple choice" },
  { value: String(QuestionKind.NUMERIC), label: "Numeric (with tolerance)" },
];

export function newQuiz(): QuizContent {
  return create(QuizContentSchema, { passingScorePercent: 70, maxAttempts: 3, questions: [newQuestion()] });
}

function newQuestion(): QuestionContent {
  return create(QuestionContentSchema, {
    kind: QuestionKind.SINGLE_CHOICE,
    prompt: "",
    choices: [create(ChoiceSchema, { id: "a", text: "" }), create(ChoiceSchema, { id: "b", text: "" })],
    correctChoiceIds: ["a"],
  });
}

function QuestionEditor({ question: q, index, onChange, onRemove }: { question: QuestionContent; index: number; onChange: (q: QuestionContent) => void; onRemove: () => void }) {
  const id = useId();
  const numeric = q.kind === QuestionKind.NUMERIC;
  const single = q.kind === QuestionKind.SINGLE_CHOICE;
  const toggle = (choiceId: string, on: boolean) => {
    const others = q.correctChoiceIds.filter((x) => x !== choiceId);
    onChange({ ...q, correctChoiceIds: on ? (single ? [choiceId] : [...others, choiceId]) : others });
  };
  const nextId = () => String.fromCharCode(97 + q.choices.length);
  return (
    <fieldset className="editor-question" data-testid="question-editor">
      <legend>Question {index + 1}</legend>
      <SelectField
        label="Kind"
        name="question-kind"
        value={String(q.kind)}
        onChange={(v) => onChange({ ...q, kind: Number(v) as QuestionKind, correctChoiceIds: Number(v) === QuestionKind.SINGLE_CHOICE ? q.correctChoiceIds.slice(0, 1) : q.correctChoiceIds })}
        options={KINDS}
      />
      <TextField label="Prompt" name="question-prompt" value={q.prompt} onChange={(v) => onChange({ ...q, prompt: v })} required />
      {numeric ? (
        <div className="editor-columns">
          <TextField label="Correct number" name="question-number" type="number" step="any" value={String(q.correctNumber)} onChange={(v) => onChange({ ...q, correctNumber: Number(v) })} />
          <TextField label="Tolerance (±)" name="question-tolerance" type="number" step="any" min="0" value={String(q.tolerance)} onChange={(v) => onChange({ ...q, tolerance: Number(v) })} />
        </div>
      ) : (
        <div className="stack">
          {q.choices.map((c, i) => (
            <div key={c.id || i} className="editor-choice">
              <input
                id={`${id}-correct-${i}`}
                type={single ? "radio" : "checkbox"}
                name={`${id}-correct`}
                checked={q.correctChoiceIds.includes(c.id)}
                onChange={(e) => toggle(c.id, e.target.checked)}
                aria-label={`Choice ${i + 1} is correct`}
              />
              <TextField
                label={`Choice ${i + 1}`}
                name="choice-text"
                value={c.text}
                onChange={(v) => onChange({ ...q, choices: q.choices.map((x, j) => (j === i ? { ...x, text: v } : x)) })}
              />
            </div>
          ))}
          {q.choices.length < 10 && (
            <Button variant="link" onClick={() => onChange({ ...q, choices: [...q.choices, create(ChoiceSchema, { id: nextId(), text: "" })] })}>
              Add a choice
            </Button>
          )}
        </div>
      )}
      <TextField label="Explanation (shown after grading)" name="question-explanation" value={q.explanation} onChange={(v) => onChange({ ...q, explanation: v })} />
      <Button variant="link" onClick={onRemove}>
        Remove question {index + 1}
      </Button>
    </fieldset>
  );
}

export function QuizEditor({ quiz, onChange }: { quiz: QuizContent | undefined; onChange: (q: QuizContent | undefined) => void }) {
  if (!quiz) {
    return (
      <Button variant="secondary" onClick={() => onChange(newQuiz())} data-testid="add-quiz">
        Add a quiz
      </Button>
    );
  }
  return (
    <div className="editor-quiz" data-testid="quiz-editor">
      <div className="editor-columns">
        <TextField label="Passing score (%)" name="quiz-passing" type="number" min="1" max="100" value={String(quiz.passingScorePercent)} onChange={(v) => onChange({ ...quiz, passingScorePercent: Number(v) || 0 })} />
        <TextField label="Attempts (0: unlimited)" name="quiz-attempts" type="number" min="0" value={String(quiz.maxAttempts)} onChange={(v) => onChange({ ...quiz, maxAttempts: Number(v) || 0 })} />
      </div>
      {quiz.questions.map((q, i) => (
        <QuestionEditor
          key={q.id || i}
          question={q}
          index={i}
          onChange={(x) => onChange({ ...quiz, questions: quiz.questions.map((y, j) => (j === i ? x : y)) })}
          onRemove={() => onChange({ ...quiz, questions: quiz.questions.filter((_, j) => j !== i) })}
        />
      ))}
      <Button variant="secondary" onClick={() => onChange({ ...quiz, questions: [...quiz.questions, newQuestion()] })} data-testid="add-question">
        Add a question
      </Button>{" "}
      <Button variant="link" onClick={() => onChange(undefined)}>
        Remove the quiz
      </Button>
    </div>
  );
}
