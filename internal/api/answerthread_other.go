//go:build !linux

package api

// answerNice is the nice value of an answer worker's thread (Linux only).
const answerNice = 0

// lowerAnswerThread does nothing outside Linux: the answer workers share
// the threads of the Go runtime at their usual priority. It returns 0
// (no thread).
func lowerAnswerThread() int { return 0 }
