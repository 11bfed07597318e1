// See package.json: no native extractor; msgpackr uses its JavaScript path.
module.exports = null;
