package nodeagent

// AKSComplete is aksComplete, for the external tests.
var AKSComplete = aksComplete
