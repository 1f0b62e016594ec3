import type { Quiz as QuizMessage } from "@gen/trading/education/v1/education_pb";
import { QuestionKind } from "@gen/trading/education/v1/education_pb";
import type { SubmitQuizResponse } from "@gen/trading/education/v1/learning_service_pb";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { learningClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";

type Answers = Record<string, { choices: string[]; number: string }>;

/** A quiz: answered here, graded on the server (the page never has the answers before). */
export function Quiz({
  courseId,
  lessonId,
  quiz,
  onGraded,
}: {
  courseId: string;
  lessonId: string;
  quiz: QuizMessage;
  onGraded: (result: SubmitQuizResponse) => void;
}) {
  const [answers, setAnswers] = useState<Answers>({});
  const [result, setResult] = useState<SubmitQuizResponse | null>(null);
  const submit = useMutation({
    mutationFn: () =>
      learningClient.submitQuiz({
        courseId,
        lessonId,
        answers: quiz.questions
          .filter((q) => answers[q.id])
          .map((q) => {
            const a = answers[q.id]!;
            return q.kind === QuestionKind.NUMERIC
              ? { questionId: q.id, number: Number(a.number) }
              : { questionId: q.id, choiceIds: a.choices };
          })
          .filter((a) => !("number" in a) || Number.isFinite(a.number)),
      }),
    onSuccess: (r) => {
      setResult(r);
      onGraded(r);
    },
  });
  const set = (id: string, change: Partial<{ choices: string[]; number: string }>) =>
    setAnswers((all) => ({ ...all, [id]: { ...(all[id] ?? { choices: [], number: "" }), ...change } }));
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    submit.mutate();
  };
  const grades = new Map(result?.grades.map((g) => [g.questionId, g]) ?? []);
  const outOfAttempts = result !== null && result.attemptsLeft === 0;
  return (
    <form className="quiz" onSubmit={onSubmit} data-testid="quiz">
      <p className="muted">
        Pass with {quiz.passingScorePercent}%{quiz.maxAttempts ? ` · ${quiz.maxAttempts} attempts` : ""}
      </p>
      {quiz.questions.map((q, i) => {
        const grade = grades.get(q.id);
        const mine = answers[q.id];
        return (
          <fieldset key={q.id} data-testid="question" data-question={q.id}>
            <legend>
              {i + 1}. {q.prompt}
            </legend>
            {q.kind === QuestionKind.NUMERIC ? (
              <label className="choice">
                Your answer
                <input
                  type="number"
                  step="any"
                  name={q.id}
                  value={mine?.number ?? ""}
                  onChange={(e) => set(q.id, { number: e.target.value })}
                />
              </label>
            ) : (
              q.choices.map((c) => {
                const multiple = q.kind === QuestionKind.MULTIPLE_CHOICE;
                const checked = mine?.choices.includes(c.id) ?? false;
                return (
                  <label key={c.id} className="choice">
                    <input
                      type={multiple ? "checkbox" : "radio"}
                      name={q.id}
                      value={c.id}
                      checked={checked}
                      onChange={() =>
                        set(q.id, {
                          choices: multiple
                            ? checked
                              ? (mine?.choices ?? []).filter((x) => x !== c.id)
                              : [...(mine?.choices ?? []), c.id]
                            : [c.id],
                        })
                      }
                    />
                    {c.text}
                  </label>
                );
              })
            )}
            {grade && (
              <div data-testid="grade" aria-live="polite">
                <p className={grade.correct ? "grade-right" : "grade-wrong"}>{grade.correct ? "Right." : "Not quite."}</p>
                {grade.explanation && <p>{grade.explanation}</p>}
                {grade.answerRevealed && !grade.correct && (
                  <p className="muted">
                    Answer:{" "}
                    {q.kind === QuestionKind.NUMERIC
                      ? String(grade.correctNumber ?? "")
                      : q.choices
                          .filter((c) => grade.correctChoiceIds.includes(c.id))
                          .map((c) => c.text)
                          .join(", ")}
                  </p>
                )}
              </div>
            )}
          </fieldset>
        );
      })}
      {submit.error && <Alert>{toApiError(submit.error).message}</Alert>}
      {result && (
        <Alert tone={result.passed ? "success" : "warning"} testId="quiz-result">
          {result.passed ? "Passed" : "Not passed"}: {result.scorePercent}%
          {result.attemptsLeft >= 0 ? ` · ${result.attemptsLeft} attempts left` : ""}
        </Alert>
      )}
      <div className="form-actions">
        <Button type="submit" busy={submit.isPending} disabled={outOfAttempts || result?.passed === true} data-testid="submit-quiz">
          Submit answers
        </Button>
      </div>
    </form>
  );
}
