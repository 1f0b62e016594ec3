"""Education: courses, lessons, quizzes, progress and certificates, with authoring."""
