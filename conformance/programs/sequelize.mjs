// Sequelize models on PostgreSQL: sync, create, find with where, transaction.
export default {
  kind: 'db',
  what: 'Sequelize 6 on PostgreSQL: sync a model, create in a transaction, query, drop',
  packages: { sequelize: '6.37.7', pg: '8.16.3' },
  services: ['postgres'],
  files: {
    'app.js': `const { Sequelize, DataTypes, Op } = require('sequelize');
const sequelize = new Sequelize('postgres://postgres@127.0.0.1:5432/test', { logging: false });
const User = sequelize.define('User', { name: DataTypes.STRING, score: DataTypes.INTEGER }, { tableName: 'users_' + process.env.SUFFIX });
(async () => {
  await User.sync();
  await sequelize.transaction(async (t) => { await User.bulkCreate([{ name: 'ann', score: 3 }, { name: 'bob', score: 9 }], { transaction: t }); });
  const top = await User.findAll({ where: { score: { [Op.gt]: 5 } } });
  console.log(top.map((u) => u.name), top[0].createdAt instanceof Date);
  await User.drop();
  await sequelize.close();
})();
`,
  },
  command: ['node', 'app.js'],
};
